namespace ThreadLineage.WebDemo.Views;

/// <summary>One rendered component, with where its work ran and which request pool its flow resolved.</summary>
/// <param name="Name">The component name.</param>
/// <param name="Html">The rendered markup.</param>
/// <param name="RenderedOn">The render pool worker that rendered it.</param>
/// <param name="DataLoadedOn">The request pool worker that loaded its data.</param>
/// <param name="RequestPoolSeen">The owner node of the <c>request</c> pool that the component's flow resolved.</param>
public sealed record ComponentView(string Name, string Html, string? RenderedOn, string? DataLoadedOn, string RequestPoolSeen);
