"""The hybrid deep model: inputs, towers, head, training and serving."""
