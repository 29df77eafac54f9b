"""The tracker model's rules with plain values: no Home Assistant, no sockets."""
