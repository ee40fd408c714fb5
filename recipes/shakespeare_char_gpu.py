"""shakespeare-char-gpu: a larger character model for a GPU (aim: validation loss <= 1.38 nats/char).

3 x 1024 LSTM, embedding 256, locked dropout 0.35, AdamW, BPTT 200, learning rate cut on plateau.

    SCRATCHLSTM_DATA=../shared/data python -m scratchlstm train --config recipes/shakespeare_char_gpu.py --device cuda
"""
data = "tinyshakespeare"
tokenizer = "char"
model = dict(embed_dim=256, hidden_dim=1024, num_layers=3, dropout=0.35, locked_dropout=True)
train = dict(epochs=30, batch_size=64, eval_batch_size=64, bptt=200, optimizer="adamw", lr=2e-3,
             weight_decay=0.01, clip=1.0, schedule="plateau", plateau_factor=0.3, plateau_patience=0,
             patience=4)
out = "runs/shakespeare-char-gpu"
device = "cuda"
