"""shakespeare-char-tuned: a better CPU recipe for Tiny Shakespeare (characters, 90/10 split).

Against the plain recipe (shakespeare_char.py): AdamW with weight decay, locked (variational)
dropout 0.25 on embeddings, between layers and on the output, and the learning rate cut by 4x
whenever validation stops improving, with early stopping. Aim: validation loss <= 1.42 nats/char in
under 30 minutes on 2 CPU cores.

    SCRATCHLSTM_DATA=../shared/data python -m scratchlstm train --config benchmarks/configs/shakespeare_char_tuned.py
"""
data = "tinyshakespeare"
tokenizer = "char"
model = dict(embed_dim=128, hidden_dim=512, num_layers=2, dropout=0.25, locked_dropout=True)
train = dict(epochs=10, batch_size=64, eval_batch_size=64, bptt=100, optimizer="adamw", lr=3e-3,
             weight_decay=0.01, clip=1.0, schedule="plateau", plateau_factor=0.25, plateau_patience=0,
             patience=2)
out = "runs/shakespeare-char-tuned"
