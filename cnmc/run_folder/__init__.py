"""The run folder's contract, in one place: the names of what a training run writes, and its records
(config.json, results.json, history.csv) read and written through one function each. The trainer
writes them; evaluation, the tools and the tests read them. Imports only storage (no TensorFlow)."""
