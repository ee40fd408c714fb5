"""covid-quick: a smoke run on the shipped COVID-19 corpus, word level: a 2 x 64 LSTM, 2 epochs of
40 steps. What `python examples/train_covid.py --quick` trains; it shows the whole pipeline
(perplexity per epoch, checkpoints, curves, samples) in well under a minute, not a good model.

    scratchlstm train --config recipes/covid_quick.py
"""
data = "covid"
tokenizer = "word"
tokenizer_options = dict(min_freq=3)
model = dict(embed_dim=64, hidden_dim=64, num_layers=2, dropout=0.1, tie_weights=True)
train = dict(epochs=2, batch_size=20, eval_batch_size=20, bptt=35, optimizer="adam", lr=5e-3, clip=0.25,
             max_steps_per_epoch=40)
out = "runs/covid-word-quick"
