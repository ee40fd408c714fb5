"""shakespeare-char: Tiny Shakespeare at the character level, nanoGPT's 90/10 split.

The same recipe as the PyTorch reference run on this hardware (nn.LSTM: embedding 128, 2 x 512,
dropout 0.2, Adam 2e-3, clip 1, batch 64, BPTT 100), which reaches its best validation loss, 1.438
nats/char, at epoch 7 and then overfits. Validation loss is reported in nats per character.

    SCRATCHLSTM_DATA=../shared/data python -m scratchlstm train --config recipes/shakespeare_char.py
"""
data = "tinyshakespeare"
tokenizer = "char"
model = dict(embed_dim=128, hidden_dim=512, num_layers=2, dropout=0.2)
train = dict(epochs=8, batch_size=64, eval_batch_size=64, bptt=100, optimizer="adam", lr=2e-3, clip=1.0,
             schedule="none")
out = "runs/shakespeare-char"
