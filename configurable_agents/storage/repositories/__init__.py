"""One module per aggregate; every function takes a Session and returns models."""
