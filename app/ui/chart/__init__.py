"""The patient chart screen: its view, the parts it is made of, and the actions it offers."""
