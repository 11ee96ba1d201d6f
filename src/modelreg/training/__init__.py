"""Training: registering versions, DVC pipelines, retraining and the bundled examples."""
