"""The answering policy: what a question asks (``question``), which documents may answer it
(``scope``), which unit of a document answers it (``units``), 公文 metadata answers
(``fields``)."""
