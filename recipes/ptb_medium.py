"""ptb-medium: the "medium" regularised model of Zaremba et al. (2014), for a GPU.

2 x 650 LSTM, embedding 650, dropout 0.5 on the non-recurrent connections, every weight
U(-0.05, 0.05), plain SGD, batch 20, BPTT 35, 39 epochs, learning rate multiplied by 0.8 after every
epoch from epoch 6 on. The paper's lr 1 and clip 5 act on a loss summed over the 35 steps; on the
per-token mean loss minimised here they become lr 35 and clip 5 / 35 = 0.143.

Reference: valid 86.2 / test 82.7. Needs a GPU:

    SCRATCHLSTM_DATA=../shared/data python -m scratchlstm train --config recipes/ptb_medium.py
"""
data = "ptb"
tokenizer = "word"
tokenizer_options = dict(word_mode="whitespace", min_freq=1)
model = dict(embed_dim=650, hidden_dim=650, num_layers=2, dropout=0.5, init="uniform", init_range=0.05)
train = dict(epochs=39, batch_size=20, eval_batch_size=20, bptt=35, optimizer="sgd", lr=35.0, clip=0.143,
             schedule="epoch_decay", decay_start=6, decay_factor=0.8)
out = "runs/ptb-medium"
device = "cuda"
