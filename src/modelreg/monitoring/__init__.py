"""Monitoring: reference profiles, drift comparison, concept drift and report rendering."""
