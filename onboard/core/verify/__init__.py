"""`onboard verify`: a record of the environment `onboard shell` would load (pin, lock,
closure with NAR hashes, the venv's files), this machine's check of it, and the comparison
of two records. The design is in docs/reproducibility.md."""
