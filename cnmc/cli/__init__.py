"""What the command-line tools share: flags, the trainer runs they start, and how a user error ends."""
