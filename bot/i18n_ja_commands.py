"""Japanese for the command and option descriptions and choices the Translator syncs to Discord."""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "Talk to the bot in this channel's conversation": "このチャンネルの会話でボットと話す",
    "What you want to say": "伝えたいこと",
    "Forget this channel's conversation": "このチャンネルの会話の記憶を消す",
    "This channel's instructions for the bot": "このチャンネルでのボットへの指示",
    "Set this channel's system prompt (needs Manage Channels)": (
        "このチャンネルのシステムプロンプトを設定（「チャンネルの管理」権限が必要）"
    ),
    "How the bot should behave in this channel": "このチャンネルでボットにどう振る舞ってほしいか",
    "Show this channel's system prompt": "このチャンネルのシステムプロンプトを表示",
    "Remove this channel's system prompt (needs Manage Channels)": (
        "このチャンネルのシステムプロンプトを削除（「チャンネルの管理」権限が必要）"
    ),
    "Your team's documents": "チームのドキュメント",
    "Add documents for the bot to answer from": "ボットが回答に使うドキュメントを追加",
    "A document (txt, md, pdf, docx, html, csv or code)": (
        "ドキュメント（txt・md・pdf・docx・html・csv・ソースコード）"
    ),
    "Who may use it": "利用できる範囲",
    "server (every channel here)": "サーバー（このサーバーの全チャンネル）",
    "channel (this channel and its threads)": "チャンネル（このチャンネルとそのスレッド）",
    "The documents this channel can use": "このチャンネルで使えるドキュメントの一覧",
    "Remove a document (its uploader or Manage Server)": (
        "ドキュメントを削除（追加した本人か「サーバー管理」権限を持つ人）"
    ),
    "The document to remove": "削除するドキュメント",
    "Whether chat in this channel uses the documents (needs Manage Channels)": (
        "このチャンネルのチャットでドキュメントを使うかどうか（「チャンネルの管理」権限が必要）"
    ),
    "On, off, or follow the server's setting": "オン・オフ、またはサーバーの設定に従う",
    "on (chat uses the documents)": "オン（チャットでドキュメントを使う）",
    "off (chat doesn't use them)": "オフ（チャットでは使わない）",
    "server default (follow the server's setting)": "サーバーの既定（サーバーの設定に従う）",
    "Answer from the documents this channel can see, with sources": (
        "このチャンネルで使えるドキュメントから出典付きで回答"
    ),
    "Your question": "質問",
    "Help with code: explain, review, fix, write tests, convert": (
        "コードの手助け：解説・レビュー・修正・テスト作成・変換"
    ),
    "Explain what code does, step by step": "コードが何をしているかを順を追って解説",
    "The code (for several lines, leave this empty and paste into the box that opens)": (
        "コード（複数行なら空欄のままにして、開く入力欄に貼り付けてください）"
    ),
    "A code file to work on": "対象のコードファイル",
    "The code's language (detected when left out)": "コードの言語（省略すると自動判定）",
    "Anything to focus on, e.g. 'focus on security' or 'use pytest'": (
        "重点を置きたい点（例：「セキュリティを重視」「pytest を使う」）"
    ),
    "Review code: numbered findings, bugs and security first": (
        "コードレビュー：指摘を番号付きで、バグとセキュリティを優先"
    ),
    "Fix bugs: the corrected code as a file (and a diff)": "バグ修正：修正後のコードをファイルで（差分付き）",
    "Write a runnable test file for code": "コードの実行できるテストファイルを作成",
    "Convert code to another language, idiomatically": "コードを別の言語へ、その言語らしい書き方で変換",
    "The language to convert to": "変換先の言語",
    "Work on images": "画像の操作",
    "Edit an uploaded image following a description": "アップロードした画像を説明に沿って編集",
    "The image to edit (PNG, JPEG, WebP or GIF)": "編集する画像（PNG・JPEG・WebP・GIF）",
    "What to change, or what the edited image should show": "変更する内容、または編集後の画像に写すもの",
    "Optional PNG the size of the image: transparent where the edit goes, opaque elsewhere": (
        "任意：画像と同じサイズの PNG。編集する部分を透明に、それ以外を不透明に"
    ),
    "Make images from a description": "説明から画像を生成",
    "What the image should show": "画像に描くもの",
    "The shape of the image (default square)": "画像の形（既定：正方形）",
    "square": "正方形",
    "portrait": "縦長",
    "landscape": "横長",
    "How many images, 1 to 4 (default 1)": "枚数、1〜4（既定：1）",
    "Higher is slower (default: the model's own choice)": (
        "高いほど時間がかかります（既定：モデルにおまかせ）"
    ),
    "low (fastest)": "低（最速）",
    "medium": "中",
    "high (slowest)": "高（最も遅い）",
    "Catch up on this channel: topics, decisions, open questions": (
        "このチャンネルの流れをまとめる：話題・決定事項・未解決の質問"
    ),
    "How many recent messages to read (default 50)": "読み込む直近のメッセージ数（既定：50）",
    "Delete everything the bot stores about you": "ボットが保存しているあなたのデータをすべて削除",
    "Server settings for the bot (Manage Server)": "ボットのサーバー設定（「サーバー管理」権限）",
    "Show this server's settings and recent changes": "このサーバーの設定と最近の変更を表示",
    "Change one server setting (value `default` resets it)": (
        "サーバー設定を1つ変更（値を `default` にすると既定に戻る）"
    ),
    "The setting to change": "変更する設定",
    "Its new value, or `default`": "新しい値、または `default`",
    "Tokens and images used, and what is left of the budget": "使用したトークンと画像、予算の残り",
    "Whose usage to show (someone else's needs Manage Server)": (
        "表示する人（他の人の分は「サーバー管理」権限が必要）"
    ),
}
