using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ThreadLineage.WebDemo.Tests.Support;

namespace ThreadLineage.WebDemo.Tests;

public class WebDemoAppTests
{
    [Fact]
    public async Task Pages_ConcurrentRequests_EachRequestSeesOnlyItsOwnPool()
    {
        await using var server = await WebDemoServer.StartAsync();
        const int Requests = 12;
        const int Components = 5;

        var responses = await GetPagesAsync(server, "p", Requests, Components);

        var requestPools = new HashSet<string>(StringComparer.Ordinal);
        foreach (var page in responses)
        {
            var requestPool = page.GetProperty("requestPool").GetString()!;
            Assert.True(requestPools.Add(requestPool), $"Two requests shared the request pool of {requestPool}.");
            // The pool is attached inside the request's own scope.
            Assert.Contains("'request ", requestPool, StringComparison.Ordinal);

            var components = page.GetProperty("components").EnumerateArray().ToList();
            Assert.Equal(Components, components.Count);
            foreach (var component in components)
            {
                // Rendered on the shared pool, yet resolving this request's pool and no other's.
                Assert.StartsWith(WebDemoApp.RenderPool + "-", component.GetProperty("renderedOn").GetString(), StringComparison.Ordinal);
                Assert.Equal(requestPool, component.GetProperty("requestPoolSeen").GetString());
            }
        }

        await server.StopAsync();
        AssertNothingRunning();
    }

    [Fact]
    public async Task Pages_DefaultMode_RequestPoolBorrowsRequestWorkersThreads()
    {
        await using var server = await WebDemoServer.StartAsync();
        var requestWorkers = server.Services.GetRequiredKeyedService<ThreadPoolManager>(WebDemoApp.RequestWorkersPool);
        var threadsBefore = ThreadsOf(WebDemoApp.RequestWorkersPool);

        var pages = await GetPagesAsync(server, "b", pages: 8, components: 6);

        foreach (var page in pages)
        {
            Assert.Equal("borrowed", page.GetProperty("requestPoolMode").GetString());
            Assert.Equal(WebDemoApp.RequestWorkersPool, page.GetProperty("workersFrom").GetString());
            Assert.Contains("'request ", page.GetProperty("requestPool").GetString(), StringComparison.Ordinal);
            foreach (var component in page.GetProperty("components").EnumerateArray())
            {
                // The request's own pool ran the item, on a thread of the pool it borrows from.
                Assert.Matches($"^{WebDemoApp.RequestWorkersPool}-[0-9]+$", component.GetProperty("dataLoadedOn").GetString());
            }
        }

        // The process-wide pool is on the root, registered by the hosting package, with one thread per core by default;
        // the requests' pools added no thread to it or to the process.
        Assert.Same(Lineage.Root, requestWorkers.Owner);
        Assert.True(requestWorkers.IsRunning);
        Assert.Equal(Environment.ProcessorCount, requestWorkers.MaxWorkers);
        Assert.Null(requestWorkers.WorkersFrom);
        Assert.Equal(Environment.ProcessorCount, requestWorkers.GetStatistics().Workers);
        Assert.Equal(threadsBefore, ThreadsOf(WebDemoApp.RequestWorkersPool));

        await server.StopAsync();
        Assert.False(requestWorkers.IsRunning);
        AssertNothingRunning();
    }

    [Fact]
    public async Task Pages_DedicatedMode_RequestPoolHasThreadsOfItsOwn()
    {
        await using var server = await WebDemoServer.StartAsync("--RequestPools:Mode=dedicated");

        var pages = await GetPagesAsync(server, "d", pages: 4, components: 4);

        var prefixes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var page in pages)
        {
            Assert.Equal("dedicated", page.GetProperty("requestPoolMode").GetString());
            Assert.Equal(JsonValueKind.Null, page.GetProperty("workersFrom").ValueKind);
            var loadedOn = page.GetProperty("components").EnumerateArray().Select(static c => c.GetProperty("dataLoadedOn").GetString()!).ToList();
            // "request-{n}-{worker}": the threads of this request's pool, named after the request's number.
            Assert.All(loadedOn, name => Assert.Matches("^request-[0-9]+-[0-9]+$", name));
            var prefix = Assert.Single(loadedOn.Select(static name => name[..name.LastIndexOf('-')]).Distinct());
            Assert.True(prefixes.Add(prefix), $"Two requests loaded on the threads of {prefix}.");
        }

        await server.StopAsync();
        AssertNothingRunning();
    }

    [Fact]
    public async Task Pages_SharedMode_EveryRequestLoadsOnTheRootsPool()
    {
        await using var server = await WebDemoServer.StartAsync("--RequestPools:Mode=shared");

        var pages = await GetPagesAsync(server, "s", pages: 4, components: 3);

        foreach (var page in pages)
        {
            Assert.Equal("shared", page.GetProperty("requestPoolMode").GetString());
            Assert.Equal(Lineage.Root.ToString(), page.GetProperty("requestPool").GetString());
            foreach (var component in page.GetProperty("components").EnumerateArray())
            {
                Assert.Equal(Lineage.Root.ToString(), component.GetProperty("requestPoolSeen").GetString());
                Assert.Matches($"^{WebDemoApp.RequestWorkersPool}-[0-9]+$", component.GetProperty("dataLoadedOn").GetString());
            }
        }

        await server.StopAsync();
        AssertNothingRunning();
    }

    [Fact]
    public void Create_UnknownRequestPoolMode_FailsNamingTheChoices()
    {
        var failure = Assert.Throws<InvalidOperationException>(() => WebDemoApp.Create(["--RequestPools:Mode=pooled"]));

        Assert.Contains("RequestPools:Mode is 'pooled'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("borrowed (the default), dedicated or shared", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lineage_Json_ShowsRenderPoolStatisticsAndTheRequestsOwnNode()
    {
        await using var server = await WebDemoServer.StartAsync();
        await GetJsonAsync(server.Client, "/pages/home?components=3");

        var lineage = await GetJsonAsync(server.Client, "/lineage");

        var root = lineage.GetProperty("tree");
        Assert.Equal("root", root.GetProperty("name").GetString());
        var render = Assert.Single(root.GetProperty("managers").EnumerateArray(), m => m.GetProperty("id").GetString() == WebDemoApp.RenderPool);
        Assert.True(render.GetProperty("isRunning").GetBoolean());
        Assert.Equal(WebDemoApp.RenderTaskType, render.GetProperty("taskType").GetString());
        Assert.True(render.GetProperty("statistics").GetProperty("completed").GetInt64() >= 3);
        // The live tree includes the scope of the /lineage request itself.
        Assert.Contains(root.GetProperty("children").EnumerateArray(), child => child.GetProperty("name").GetString()!.StartsWith("request ", StringComparison.Ordinal));
        Assert.Contains(lineage.GetProperty("pools").EnumerateArray(), pool => pool.GetProperty("id").GetString() == WebDemoApp.RenderPool);

        await server.StopAsync();
        AssertNothingRunning();
    }

    [Fact]
    public async Task Lineage_AcceptTextPlain_ReturnsTheDescribedTree()
    {
        await using var server = await WebDemoServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/lineage");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/plain"));

        using var response = await Bounded.ResultAsync(server.Client.SendAsync(request), "GET /lineage as text");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("- root", text, StringComparison.Ordinal);
        Assert.Contains($"* {WebDemoApp.RenderPool}: running", text, StringComparison.Ordinal);
        Assert.Contains("'request ", text, StringComparison.Ordinal);

        await server.StopAsync();
        AssertNothingRunning();
    }

    [Fact]
    public async Task Protection_WorkWithoutTaskType_IsRefused()
    {
        await using var server = await WebDemoServer.StartAsync();

        var refusal = await GetJsonAsync(server.Client, "/protection");

        Assert.True(refusal.GetProperty("refused").GetBoolean());
        Assert.Equal(WebDemoApp.RenderTaskType, refusal.GetProperty("poolTaskType").GetString());
        Assert.Contains($"'{WebDemoApp.RenderPool}'", refusal.GetProperty("message").GetString(), StringComparison.Ordinal);

        await server.StopAsync();
        AssertNothingRunning();
    }

    [Fact]
    public async Task Create_RenderPool_IsTheHostingPackagesKeyedManagerOnRoot()
    {
        await using var server = await WebDemoServer.StartAsync();

        var render = server.Services.GetRequiredKeyedService<ThreadPoolManager>(WebDemoApp.RenderPool);

        Assert.Same(Lineage.Root, render.Owner);
        Assert.True(render.IsRunning);
        Assert.Equal(WebDemoApp.RenderTaskType, render.TaskType);
        // appsettings.json (ThreadPools:render:MaxWorkers) overrides the size set in code.
        Assert.Equal(4, render.MaxWorkers);

        await server.StopAsync();
        Assert.False(render.IsRunning);
        AssertNothingRunning();
    }

    [Fact]
    public void Create_NoArguments_ServesOnLoopbackOnly()
    {
        var app = WebDemoApp.Create([]);

        var urls = app.Configuration["urls"];

        Assert.NotNull(urls);
        Assert.All(urls.Split(';'), url => Assert.True(IPAddress.IsLoopback(IPAddress.Parse(new Uri(url).Host)), $"{url} is not a loopback address."));
    }

    /// <summary>Requests the pages "{prefix}0" to "{prefix}{pages - 1}", of <paramref name="components"/> components each, all at once.</summary>
    private static async Task<JsonElement[]> GetPagesAsync(WebDemoServer server, string prefix, int pages, int components) =>
        await Bounded.ResultAsync(
            Task.WhenAll(Enumerable.Range(0, pages).Select(i => GetJsonAsync(server.Client, $"/pages/{prefix}{i}?components={components}"))),
            "the page requests");

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>The threads of this process named "{prefix}-N" (Linux: /proc/self/task/*/comm, which keeps the first 15 characters).</summary>
    private static int ThreadsOf(string prefix)
    {
        if (!Directory.Exists("/proc/self/task"))
        {
            return 0;
        }

        var shown = (prefix + "-")[..Math.Min(prefix.Length + 1, 15)];
        return Directory.GetDirectories("/proc/self/task").Count(task =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(task, "comm")).StartsWith(shown, StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false; // The thread exited meanwhile.
            }
        });
    }

    private static void AssertNothingRunning()
    {
        // This assembly's tests run one at a time and only the web demo creates managers here: after its shutdown,
        // neither the render pool nor any request's pool may still run.
        var running = ThreadPoolManager.AllInstances.Where(static m => m.IsRunning).Select(static m => m.ToString()).ToList();
        Assert.True(running.Count == 0, "Still running after shutdown: " + string.Join("; ", running));
    }
}
