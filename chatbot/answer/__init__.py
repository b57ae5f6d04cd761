"""Answering a question: the pipeline and the steps it runs, in order.

``pipeline`` runs them: validate ▶ condense (``conversation``) ▶ scope
(``scope``) ▶ examine (``retrieval``, ``periods``, ``gate``,
``answerability``) ▶ period ▶ read (``reading``) ▶ generate (``prompts``) ▶
check (``verify``, ``judge``) ▶ present (``quote``). ``steps`` holds the values
the steps hand each other. Nothing here imports a vendor library; models and
stores come in through ``chatbot.protocols``.
"""
