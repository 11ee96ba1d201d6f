"""The registry: its layout, records, YAML + schema loading, snapshots at any revision,
the blob cache, history, the policy with its rules, and validation.

This layer never imports numpy, pandas, scipy, scikit-learn, DVC or github3.
"""
