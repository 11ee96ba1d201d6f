"""Promotion: the gate engine, gate runs, proposing PRs, PR bodies, the PR check and the
canary rollout engine."""
