"""`python -m trainer`: backbones, the training loop, callbacks, export."""
