"""dsn's Hydra sweeper: Optuna (current releases) behind Hydra's sweeper interface."""
