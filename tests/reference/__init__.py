"""Reference implementations kept with the tests (third-party code keeps its licence header)."""
