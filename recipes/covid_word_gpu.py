"""covid-word-gpu: Zaremba et al.'s "medium" shape on the shipped COVID-19 corpus, word level, for a
GPU: 2 x 650 LSTM with tied weights (10.8M parameters, vocabulary 6,224), dropout 0.5, Adam, up to
30 epochs of 364 steps (20 x 35 tokens) with early stopping after 4 epochs without improvement.
What `python examples/train_covid.py` trains when CuPy sees a GPU.

    scratchlstm train --config recipes/covid_word_gpu.py
"""
data = "covid"
tokenizer = "word"
tokenizer_options = dict(min_freq=3)
model = dict(embed_dim=650, hidden_dim=650, num_layers=2, dropout=0.5, tie_weights=True)
train = dict(epochs=30, batch_size=20, eval_batch_size=10, bptt=35, optimizer="adam", lr=2e-3, clip=0.25,
             schedule="plateau", plateau_factor=0.25, patience=4)
out = "runs/covid-word"
device = "cuda"
