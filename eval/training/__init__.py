"""Training the answerability reader (``chatbot-train-reader``).

``squad_train`` reads the pinned SQuAD v1.1 training set, ``near_misses`` turns
its answerable questions into labelled near-miss pairs, ``features`` tokenizes
them, ``trainer`` fine-tunes the reader, ``evaluate`` measures it on the
shared calibration and test halves. Nothing here runs at answer time.
"""
