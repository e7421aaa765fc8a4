"""Part II: the problem set's CNN on MNIST, trained with PyTorch and watched in TensorBoard.

Modules (nothing here imports PyTorch, so the CLI's help works without it):
  config    TrainConfig, DataConfig, MonitorConfig, RECIPES, with_recipe  (PyTorch-free)
  data      the dataset as one normalised tensor per split (files: backproplab.data)
  model     Net: conv 5x5 1->10, act, pool, conv 5x5 10->20, act, pool, fc 320->50, act,
            dropout 0.5, fc 50->10, log-softmax
  monitor   hooks -> torch statistics -> TensorBoard + stats.csv / histograms.csv
  train     train(config, data_config, monitor_config) -> result; checkpoints, resume, DDP
  compare   run_comparison(out_dir, seeds, epochs, ...): {adam, sgd} x {relu, tanh}
"""
