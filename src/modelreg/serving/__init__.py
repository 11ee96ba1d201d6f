"""Serving: the deployment manifest, the local and KServe targets, and batch prediction."""
