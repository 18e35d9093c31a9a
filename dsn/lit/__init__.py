"""Lightning adapters: one module per training style of a head, checkpoints, callbacks, loggers, precision."""
