namespace Lustre.Dataset;

/// <summary>
/// Where a <see cref="LustreDataset"/> is in its epochs: small, immutable and serializable (e.g. with System.Text.Json).
/// A reader opened with it (<see cref="LustreDatasetOptions.ResumeFrom"/>) yields exactly the samples of the epoch that were
/// not yet read, also with a different world size; see <c>docs/dataset-format.md</c>.
/// </summary>
/// <param name="Seed">The shuffle seed.</param>
/// <param name="Epoch">The epoch being read.</param>
/// <param name="Position">How many entries of the epoch's global order every rank together has consumed (a multiple of the world size it was saved with).</param>
/// <param name="SampleCount">The number of samples in the dataset, to catch a state applied to other data.</param>
/// <param name="Order">
/// What else decides the order besides the seed and the epoch: the shuffle mode and, for shard-aware shuffling, its
/// window bounds (<see cref="LustreDatasetOptions.ShuffleWindow"/> and a quarter of <see cref="LustreDatasetOptions.PrefetchBudget"/>).
/// A reader resumed with other settings would follow another order, so it is refused; null (a state made by hand) is not checked.
/// </param>
public sealed record LustreDatasetState(ulong Seed, int Epoch, long Position, long SampleCount, string? Order = null);
