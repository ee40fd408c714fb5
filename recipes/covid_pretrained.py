"""covid-pretrained: the recipe of the checkpoint that ships with the library
(``scratchlstm.pretrained.load("covid-bpe")``), which lessons 9, 10, 12 and 13 and the web
playground load.

Byte-level BPE (3,000 tokens) on the shipped COVID-19 corpus; 2 x 256 LSTM with tied embedding and
decoder weights (1.82 M parameters, 7.3 MB in float32, so it fits in the package); AdamW with a
100-step warm-up and a cosine down to 1e-4 over 8 epochs; dropout 0.25. Trained in 30.9 minutes
on a shared 2-core CPU with one BLAS thread: valid 1.978 / test 1.984 bits per character
(benchmarks/RESULTS.md, section 9).

    python benchmarks/make_pretrained.py                 # trains, records samples, exports
    python -m scratchlstm train --config recipes/covid_pretrained.py   # the same training alone
"""
data = "covid"
tokenizer = "bpe"
tokenizer_options = dict(vocab_size=3000)
model = dict(embed_dim=256, hidden_dim=256, num_layers=2, dropout=0.25, tie_weights=True)
train = dict(epochs=8, batch_size=32, eval_batch_size=10, bptt=35, optimizer="adamw", lr=3e-3,
             weight_decay=0.01, clip=0.5, schedule="cosine", warmup_steps=100, min_lr=1e-4, seed=0)
out = "runs/covid-pretrained"
