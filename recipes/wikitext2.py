"""wikitext2: PyTorch's word_language_model default recipe on WikiText-2.

2 x 200 LSTM, embedding 200, dropout 0.2, SGD lr 20, clip 0.25, batch 20, BPTT 35, lr divided by 4
when validation loss stops improving. A few epochs (PyTorch's example default is 40).

    SCRATCHLSTM_DATA=../shared/data python -m scratchlstm train --config recipes/wikitext2.py
"""
data = "wikitext2"
tokenizer = "word"
tokenizer_options = dict(word_mode="whitespace", min_freq=1)
model = dict(embed_dim=200, hidden_dim=200, num_layers=2, dropout=0.2)
train = dict(epochs=6, batch_size=20, eval_batch_size=10, bptt=35, optimizer="sgd", lr=20.0, clip=0.25,
             schedule="plateau", plateau_factor=0.25, plateau_patience=0)
out = "runs/wikitext2"
