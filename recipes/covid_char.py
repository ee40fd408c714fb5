"""covid-char: the shipped COVID-19 corpus at the char level (one of three recipes that differ only in
the tokenizer; compare them in bits per character, which does not depend on the unit of text).

    python -m scratchlstm train --config recipes/covid_char.py
"""
data = "covid"
tokenizer = "char"
tokenizer_options = dict()
model = dict(embed_dim=256, hidden_dim=256, num_layers=2, dropout=0.3, tie_weights=True)
train = dict(epochs=8, batch_size=20, eval_batch_size=10, bptt=100, optimizer="adam", lr=3e-3, clip=0.25,
             schedule="plateau", plateau_factor=0.25, patience=2)
out = "runs/covid-char"
