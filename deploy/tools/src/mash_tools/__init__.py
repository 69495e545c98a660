"""The hub's tools, apart from the platform services import: the `mash` command line,
`mash run`, the demo, the broker's topic and ACL set-up, and the test suite's support."""
