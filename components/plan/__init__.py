"""Stage ``plan``: the training plan (model size, strategy, freeze depth, epochs, learning rates)."""
