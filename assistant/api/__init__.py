"""The HTTP shell: FastAPI routes over the one ``Assistant``, plus the Gradio UI at ``/ui``."""
