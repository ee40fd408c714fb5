"""ptb-small: the "small" model of Zaremba, Sutskever & Vinyals (2014), "Recurrent Neural Network
Regularization", on the Penn Treebank (Mikolov's language-modelling version).

2 x 200 LSTM, embedding 200, every weight U(-0.1, 0.1), no dropout, plain SGD, batch 20, BPTT 20,
13 epochs, learning rate halved after every epoch from epoch 4 on.

The paper's learning rate 1 and clipping norm 5 act on a loss *summed* over the 20 time steps
(averaged over the batch). scratchlstm, like PyTorch, minimises the *mean* over tokens, whose
gradient is 20 times smaller, so the same updates are lr 20 and clip 0.25.

Reference (the paper's code): valid 120.7 / test 114.5 after 13 epochs (reported as ~121 / 115).

    SCRATCHLSTM_DATA=../shared/data python -m scratchlstm train --config recipes/ptb_small.py
"""
data = "ptb"
tokenizer = "word"
tokenizer_options = dict(word_mode="whitespace", min_freq=1)
model = dict(embed_dim=200, hidden_dim=200, num_layers=2, dropout=0.0, init="uniform", init_range=0.1)
train = dict(epochs=13, batch_size=20, eval_batch_size=20, bptt=20, optimizer="sgd", lr=20.0, clip=0.25,
             schedule="epoch_decay", decay_start=4, decay_factor=0.5)
out = "runs/ptb-small"
