"""Editor integration: each editor gets the project's direnv environment, reversibly."""
