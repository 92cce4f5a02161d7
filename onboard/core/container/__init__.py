"""Container images of an environment (`onboard export container`): the runtime closure of
the environment `onboard shell` would load, written as an OCI image archive by onboard's own
deterministic writer (tarwriter.py), with the profile's variables, a non-root user, a working
directory and a default command (image.py, export.py); `--load` hands it to podman or docker
(load.py). See docs/container.md."""
