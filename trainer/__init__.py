"""`python -m trainer`: backbones, the training loop, callbacks, export (issue 4)."""
