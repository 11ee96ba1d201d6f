"""Pure statistical tests shared by the drift check and the canary analysis.

Importing this package costs nothing: numpy and scipy are imported by the functions
that use them.
"""
