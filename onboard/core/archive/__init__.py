"""Archives of an environment: its closure as a file binary cache, its rendered files, its
record, and the way back in with no network (`onboard export archive`, `onboard import archive`)."""
