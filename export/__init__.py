"""Training and ONNX export of the Turtle ID encoder (needs torch; the app never imports this)."""
