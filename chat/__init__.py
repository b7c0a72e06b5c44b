"""The chat builder process: a Gradio app over the shared package."""
