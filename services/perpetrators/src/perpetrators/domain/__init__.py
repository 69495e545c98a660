"""The perpetrators' pure rules: no I/O, no framework, no clock (`now` is passed in)."""
