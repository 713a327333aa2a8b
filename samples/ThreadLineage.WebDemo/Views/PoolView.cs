namespace ThreadLineage.WebDemo.Views;

/// <summary>A live pool and the node it is attached to.</summary>
/// <param name="Id">The manager id.</param>
/// <param name="Owner">The node it is attached to, or <see langword="null"/> for a free-standing manager.</param>
/// <param name="Manager">Its state and statistics.</param>
public sealed record PoolView(string Id, string? Owner, ManagerView Manager);
