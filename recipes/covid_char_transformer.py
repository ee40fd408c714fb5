"""covid-char-transformer: a small GPT-style transformer on the shipped COVID-19 corpus, at the
character level, to set beside covid_char.py (the LSTM): 3 blocks, d_model 128, 4 heads, a context
of 128 characters, tied weights; AdamW with a warm-up and a cosine decay. Training windows are
the context length (bptt = block_size), the classic transformer language-model training.

    scratchlstm train --config recipes/covid_char_transformer.py
"""
data = "covid"
tokenizer = "char"
model = dict(kind="transformer", d_model=128, n_heads=4, n_layers=3, block_size=128, dropout=0.1,
             tie_weights=True)
train = dict(epochs=4, batch_size=32, eval_batch_size=16, bptt=128, optimizer="adamw", lr=1e-3,
             weight_decay=0.01, clip=1.0, schedule="cosine", warmup_steps=100, min_lr=1e-4, patience=2)
out = "runs/covid-char-transformer"
