using Microsoft.AspNetCore.Builder;

namespace ThreadLineage.WebDemo.Tests.Support;

/// <summary>The web demo on real Kestrel, on a free port of 127.0.0.1, with an HTTP client that only talks to it.</summary>
internal sealed class WebDemoServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebDemoServer(WebApplication app, HttpClient client)
    {
        _app = app;
        Client = client;
    }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts the demo; <paramref name="args"/> are more configuration overrides, such as <c>--RequestPools:Mode=shared</c>.</summary>
    public static async Task<WebDemoServer> StartAsync(params string[] args)
    {
        var app = WebDemoApp.Create(["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning", .. args]);
        await Bounded.WaitAsync(app.StartAsync(), "the web demo to start");
        var address = new Uri(Assert.Single(app.Urls));
        // Traffic goes to the loopback address only, never through a proxy the environment may name.
        Assert.Equal("127.0.0.1", address.Host);
        var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = address, Timeout = Bounded.Timeout };
        return new WebDemoServer(app, client);
    }

    public async Task StopAsync()
    {
        using var timeout = new CancellationTokenSource(Bounded.Timeout);
        await Bounded.WaitAsync(_app.StopAsync(timeout.Token), "the web demo to stop");
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.DisposeAsync();
    }
}
