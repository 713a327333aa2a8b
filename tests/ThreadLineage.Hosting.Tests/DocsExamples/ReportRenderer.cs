using Microsoft.Extensions.DependencyInjection;

namespace ThreadLineage.Hosting.Tests.DocsExamples;

#region doc: docs/hosting.md › Use a pool
public sealed class ReportRenderer([FromKeyedServices("render")] ThreadPoolManager render)
{
    public Task<string> RenderAsync(string title) =>
        render.Submit(() => $"<h1>{title}</h1>", "component-render");
}
#endregion
