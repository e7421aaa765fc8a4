"""Part II: the problem set's CNN on MNIST, trained with PyTorch and watched in TensorBoard.

Modules (this package imports nothing; the commands import PyTorch only to run, not for --help):
  architecture  LAYERS: the network as one table of layers (PyTorch-free), read by the model,
                the monitor (MONITORED: backproplab.monitor's layer map), the checkpoints'
                check and the report (`shape_table`, `summary`)
  config        TrainConfig, DataConfig, MonitorConfig, RECIPES, with_recipe  (PyTorch-free)
  data          the dataset as one normalised tensor per split (files: backproplab.data)
  model         Net, built from the table; Dropout with an explicit generator
  distributed   Distributed: one process or one torchrun rank; rank 0 alone writes
  checkpoint    RunFiles (the run folder: an io.RunFolder marked by run.json), checkpoints,
                saved models, TrainState
  train         train(config, data_config, monitor_config) -> RunResult: the epoch loop
                (train_epoch, evaluate_epoch, checkpoint), stopping (Stopper), evaluate
  compare       run_comparison(out_dir, seeds, config, ...) -> ComparisonResult:
                {adam, sgd} x {relu, tanh}
  command, compare_command, evaluate_command: train-cnn, compare-cnn, evaluate-cnn
"""
