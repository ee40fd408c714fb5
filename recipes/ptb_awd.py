"""ptb-awd: AWD-LSTM (Merity, Keskar & Socher 2017, "Regularizing and Optimizing LSTM Language
Models") sized for 2 CPU cores, on the Penn Treebank.

Every regulariser of the paper, at rates lowered for a model a tenth of the paper's size and a
budget of 13 epochs instead of 500: locked dropout on the embeddings (0.3), between the layers
(0.2) and on the output (0.3); embedding dropout of whole words (0.1); DropConnect on the recurrent
weights (0.3); AR (alpha 2) and TAR (beta 1) on the last layer; L2 weight decay 1.2e-6; variable
BPTT around 35 with the step scaled by the window's length; and NT-ASGD (plain SGD at lr 30 until
validation fails to beat the best of more than 2 epochs before, then the running average of the
weights, on which validation and best.npz are judged). 2 x 400 LSTM, embedding and decoder tied
(6.6 M parameters; the paper's model: 3 layers, 24 M).

Two changes for the short budget, both measured (benchmarks/RESULTS.md, section 12): batch 20 and
windows of 35 give four times the updates per epoch of the paper's 40 x 70 (the first try, at
40 x 70, was at validation perplexity 237 after 2 epochs); and averaging starts after epoch 7 at
the latest (average_after): at a constant lr of 30 validation still improves a little every epoch
(by under 1 perplexity from epoch 5 to 6), so the non-monotone trigger alone would not fire within
13 epochs, while iterates at their noise floor are just what averaging is for.

The run is resumable: stop it with Ctrl-C and continue with --resume runs/ptb-awd/last.npz.

    SCRATCHLSTM_DATA=../shared/data python -m scratchlstm train --config recipes/ptb_awd.py
"""
data = "ptb"
tokenizer = "word"
tokenizer_options = dict(word_mode="whitespace", min_freq=1)
model = dict(embed_dim=400, hidden_dim=400, num_layers=2, tie_weights=True, locked_dropout=True,
             dropout=0.3, input_dropout=0.3, hidden_dropout=0.2, embedding_dropout=0.1,
             weight_drop=0.3, ar_alpha=2.0, tar_beta=1.0, init="uniform", init_range=0.1)
train = dict(epochs=13, batch_size=20, eval_batch_size=10, bptt=35, variable_bptt=True,
             optimizer="ntasgd", lr=30.0, nonmono=2, average_after=7, weight_decay=1.2e-6, clip=0.25,
             schedule="none")
out = "runs/ptb-awd"
