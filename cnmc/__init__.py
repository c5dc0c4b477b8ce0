"""cnmc: the parts of the project that are not a stage of the design (cnmc_tfds, pipeline, trainer, tools) but
serve them: storage and console below everything, the run folder's contract, pictures, evaluation, benchmarks and
the tools' shared flags (cli). Importing it imports nothing."""
