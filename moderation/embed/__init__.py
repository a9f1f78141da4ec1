"""The embeddable comment form: the widget's script and styles, and the no-JavaScript page."""
