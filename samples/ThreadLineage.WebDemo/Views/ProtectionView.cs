namespace ThreadLineage.WebDemo.Views;

/// <summary>The outcome of submitting work to the render pool without its task type.</summary>
/// <param name="Refused">Whether the pool refused the work.</param>
/// <param name="PoolTaskType">The task type the pool accepts.</param>
/// <param name="Message">The refusal's message.</param>
public sealed record ProtectionView(bool Refused, string? PoolTaskType, string Message);
