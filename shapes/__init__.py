"""SHACL shapes guarding every write, and the validator that runs them."""
